package api

func (s *Server) organizationRoutes() {}
