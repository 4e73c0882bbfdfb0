package api

func (s *Server) searchRoutes() {}
