package api

func (s *Server) helpCenterRoutes() {}
